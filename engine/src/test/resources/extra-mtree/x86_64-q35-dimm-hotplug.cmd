qemu-system-x86_64 -machine q35 -m 2G,slots=2,maxmem=8G -object memory-backend-ram,id=m1,size=1G -device pc-dimm,memdev=m1 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
