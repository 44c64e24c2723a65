qemu-system-x86_64 -machine pc,nvdimm=on -m 512M,slots=2,maxmem=2G -object memory-backend-ram,id=nv1,size=256M -device nvdimm,memdev=nv1,id=nvd1 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
