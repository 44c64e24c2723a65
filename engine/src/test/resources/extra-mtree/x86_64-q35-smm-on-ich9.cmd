qemu-system-x86_64 -machine q35,smm=on -m 512M -device ich9-intel-hda -device ich9-usb-ehci1 -device ich9-ahci -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
