qemu-system-x86_64 -machine q35 -m 1G,maxmem=4G -object memory-backend-ram,id=vm1,size=1G -device virtio-mem-pci,memdev=vm1,id=vmem1,requested-size=0 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
