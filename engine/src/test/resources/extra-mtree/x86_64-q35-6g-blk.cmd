qemu-system-x86_64 -machine q35 -m 6G -device virtio-blk-pci,drive=d0 -drive if=none,id=d0,file=null-co://,format=raw -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
