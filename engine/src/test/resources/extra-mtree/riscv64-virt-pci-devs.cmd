qemu-system-riscv64 -machine virt -m 512M -device virtio-net-pci,netdev=n0 -netdev user,id=n0 -device virtio-rng-pci -device pcie-root-port,id=rp1,chassis=1 -device virtio-gpu-pci,bus=rp1 -nodefaults -display none -S -accel tcg -qmp unix:QMP_SOCKET,server=on,wait=off
# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch
