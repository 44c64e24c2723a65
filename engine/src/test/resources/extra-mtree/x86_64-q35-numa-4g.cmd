qemu-system-x86_64 -machine q35 -m 4G -smp 2 -object memory-backend-ram,id=r0,size=3G -object memory-backend-ram,id=r1,size=1G -numa node,nodeid=0,memdev=r0,cpus=0 -numa node,nodeid=1,memdev=r1,cpus=1 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
