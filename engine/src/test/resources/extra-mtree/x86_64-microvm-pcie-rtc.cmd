qemu-system-x86_64 -machine microvm,pcie=on,rtc=on -m 256M -device virtio-net-pci,netdev=n0 -netdev user,id=n0 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
