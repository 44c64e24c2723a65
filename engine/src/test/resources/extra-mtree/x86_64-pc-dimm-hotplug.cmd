qemu-system-x86_64 -machine pc -m 1G,slots=4,maxmem=4G -object memory-backend-ram,id=m1,size=256M -device pc-dimm,memdev=m1 -object memory-backend-ram,id=m2,size=512M -device pc-dimm,memdev=m2 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
