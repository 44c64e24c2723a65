qemu-system-x86_64 -machine pc -m 3584M -device pci-bridge,chassis_nr=1,id=br1 -device e1000,bus=br1 -device qxl-vga -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
