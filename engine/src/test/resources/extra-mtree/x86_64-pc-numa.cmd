qemu-system-x86_64 -machine pc -m 1G -smp 2 -object memory-backend-ram,id=r0,size=384M -object memory-backend-ram,id=r1,size=640M -numa node,nodeid=0,memdev=r0,cpus=0 -numa node,nodeid=1,memdev=r1,cpus=1 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
