import json, socket, subprocess, sys, time, os
def cap(name, argv, outdir):
    sock = f"/tmp/qcap/{name}.sock"
    if os.path.exists(sock): os.unlink(sock)
    cmd = argv + ["-nodefaults", "-display", "none", "-S", "-accel", "tcg", "-qmp", f"unix:{sock},server=on,wait=off"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        if os.path.exists(sock): break
        time.sleep(0.1)
    s = socket.socket(socket.AF_UNIX); s.connect(sock); f = s.makefile("rw")
    def rd():
        while True:
            m = json.loads(f.readline())
            if "return" in m or "error" in m: return m
            if "QMP" in m: return m
    rd()
    def ex(c, **a):
        f.write(json.dumps({"execute": c, "arguments": a} if a else {"execute": c}) + "\n"); f.flush(); return rd()
    ex("qmp_capabilities")
    res = {}
    for k, c in [("mtree", "info mtree"), ("disabled", "info mtree -D"), ("flat", "info mtree -f")]:
        r = ex("human-monitor-command", **{"command-line": c})
        if "error" in r: raise SystemExit(f"{name}: {r}")
        res[k] = r["return"].replace("\r\n", "\n")
        open(f"{outdir}/{name}.{k}.txt", "w").write(res[k])
    open(f"{outdir}/{name}.cmd", "w").write(" ".join(cmd).replace(sock, "QMP_SOCKET") + "\n# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch\n")
    ex("quit"); p.wait(timeout=10)
if __name__ == "__main__":
    outdir = sys.argv[1]
    # boards that refuse to start without firmware/kernel get a 64 KiB zero-filled stand-in (never run: -S)
    ZERO = "/tmp/qcap/zero.bin"
    os.makedirs("/tmp/qcap", exist_ok=True)
    if not os.path.exists(ZERO): open(ZERO, "wb").write(bytes(65536))
    machines = {
      "x86_64-isapc": ["qemu-system-x86_64", "-machine", "isapc", "-m", "64M"],
      "x86_64-microvm": ["qemu-system-x86_64", "-machine", "microvm", "-m", "128M"],
      "x86_64-q35-devs2": ["qemu-system-x86_64", "-machine", "q35", "-m", "1G", "-device", "virtio-blk-pci,drive=d0", "-drive", "if=none,id=d0,file=null-co://,format=raw", "-device", "intel-hda", "-device", "ich9-usb-uhci1", "-device", "VGA"],
      "x86_64-pc-isa-devs": ["qemu-system-x86_64", "-machine", "pc", "-m", "256M", "-device", "isa-serial", "-device", "sb16", "-device", "cirrus-vga", "-device", "pcnet"],
      "aarch64-virt-secure": ["qemu-system-aarch64", "-machine", "virt,secure=on,virtualization=on", "-cpu", "cortex-a57", "-m", "256M"],
      "arm-vexpress-a9": ["qemu-system-arm", "-machine", "vexpress-a9", "-m", "128M"],
      "arm-mcimx6ul-evk": ["qemu-system-arm", "-machine", "mcimx6ul-evk", "-m", "128M"],
      "aarch64-raspi3b": ["qemu-system-aarch64", "-machine", "raspi3b"],
      "arm-versatilepb": ["qemu-system-arm", "-machine", "versatilepb", "-m", "128M"],
      "riscv64-sifive_u": ["qemu-system-riscv64", "-machine", "sifive_u", "-m", "256M"],
      "aarch64-sbsa-ref": ["qemu-system-aarch64", "-machine", "sbsa-ref"],
      "arm-musicpal": ["qemu-system-arm", "-machine", "musicpal"],
      "arm-ast2500-evb": ["qemu-system-arm", "-machine", "ast2500-evb", "-m", "512M"],
      "arm-ast2500-evb-1g": ["qemu-system-arm", "-machine", "ast2500-evb", "-m", "1G"],
      "arm-ast2600-evb": ["qemu-system-arm", "-machine", "ast2600-evb", "-m", "1G"],
      "arm-sabrelite": ["qemu-system-arm", "-machine", "sabrelite", "-m", "1G"],
      "arm-xilinx-zynq-a9": ["qemu-system-arm", "-machine", "xilinx-zynq-a9", "-m", "256M"],
      "arm-realview-pbx-a9": ["qemu-system-arm", "-machine", "realview-pbx-a9", "-m", "256M"],
      "arm-highbank": ["qemu-system-arm", "-machine", "highbank", "-m", "512M"],
      "arm-npcm750-evb": ["qemu-system-arm", "-machine", "npcm750-evb"],
      "arm-raspi2b": ["qemu-system-arm", "-machine", "raspi2b"],
      "arm-imx25-pdk": ["qemu-system-arm", "-machine", "imx25-pdk", "-m", "128M"],
      "arm-kzm": ["qemu-system-arm", "-machine", "kzm", "-m", "128M"],
      "arm-mps2-an385": ["qemu-system-arm", "-machine", "mps2-an385"],
      "arm-mps3-an547": ["qemu-system-arm", "-machine", "mps3-an547"],
      "arm-musca-a": ["qemu-system-arm", "-machine", "musca-a"],
      "arm-netduinoplus2": ["qemu-system-arm", "-machine", "netduinoplus2"],
      "arm-orangepi-pc": ["qemu-system-arm", "-machine", "orangepi-pc"],
      "arm-cubieboard": ["qemu-system-arm", "-machine", "cubieboard"],
      "arm-smdkc210": ["qemu-system-arm", "-machine", "smdkc210"],
      "aarch64-xlnx-zcu102": ["qemu-system-aarch64", "-machine", "xlnx-zcu102"],
      "aarch64-virt-smmuv3-gicv3": ["qemu-system-aarch64", "-machine", "virt,iommu=smmuv3,gic-version=3", "-cpu", "cortex-a57", "-m", "512M", "-device", "virtio-net-pci,netdev=n0", "-netdev", "user,id=n0"],
      "aarch64-raspi3ap": ["qemu-system-aarch64", "-machine", "raspi3ap"],
      "riscv64-virt-aia": ["qemu-system-riscv64", "-machine", "virt,aia=aplic-imsic", "-m", "256M"],
      "riscv64-microchip-icicle-kit": ["qemu-system-riscv64", "-machine", "microchip-icicle-kit", "-bios", "none", "-m", "2G"],
      "riscv64-shakti_c": ["qemu-system-riscv64", "-machine", "shakti_c"],
      "x86_64-q35-intel-iommu": ["qemu-system-x86_64", "-machine", "q35,kernel-irqchip=split", "-m", "512M", "-device", "intel-iommu", "-device", "e1000e"],
      "x86_64-pc-isa-many": ["qemu-system-x86_64", "-machine", "pc", "-m", "128M", "-chardev", "null,id=c0", "-chardev", "null,id=c1", "-device", "isa-serial", "-device", "isa-serial", "-device", "isa-parallel,chardev=c0", "-audiodev", "none,id=a0", "-device", "adlib,audiodev=a0", "-device", "gus,audiodev=a0", "-device", "cs4231a,audiodev=a0", "-device", "ne2k_isa", "-device", "isa-vga", "-device", "ib700", "-device", "pc-testdev", "-device", "isa-debugcon,chardev=c1"],
      "x86_64-pc-bridge-qxl-3584m": ["qemu-system-x86_64", "-machine", "pc", "-m", "3584M", "-device", "pci-bridge,chassis_nr=1,id=br1", "-device", "e1000,bus=br1", "-device", "qxl-vga"],
      "x86_64-pc-dimm-hotplug": ["qemu-system-x86_64", "-machine", "pc", "-m", "1G,slots=4,maxmem=4G", "-object", "memory-backend-ram,id=m1,size=256M", "-device", "pc-dimm,memdev=m1", "-object", "memory-backend-ram,id=m2,size=512M", "-device", "pc-dimm,memdev=m2"],
      "x86_64-q35-dimm-hotplug": ["qemu-system-x86_64", "-machine", "q35", "-m", "2G,slots=2,maxmem=8G", "-object", "memory-backend-ram,id=m1,size=1G", "-device", "pc-dimm,memdev=m1"],
      "x86_64-pc-nvdimm": ["qemu-system-x86_64", "-machine", "pc,nvdimm=on", "-m", "512M,slots=2,maxmem=2G", "-object", "memory-backend-ram,id=nv1,size=256M", "-device", "nvdimm,memdev=nv1,id=nvd1"],
      "x86_64-q35-virtio-mem": ["qemu-system-x86_64", "-machine", "q35", "-m", "1G,maxmem=4G", "-object", "memory-backend-ram,id=vm1,size=1G", "-device", "virtio-mem-pci,memdev=vm1,id=vmem1,requested-size=0"],
      "x86_64-pc-ivshmem": ["qemu-system-x86_64", "-machine", "pc", "-m", "256M", "-object", "memory-backend-ram,id=shm1,size=4M,share=on", "-device", "ivshmem-plain,memdev=shm1"],
      "x86_64-pc-numa": ["qemu-system-x86_64", "-machine", "pc", "-m", "1G", "-smp", "2", "-object", "memory-backend-ram,id=r0,size=384M", "-object", "memory-backend-ram,id=r1,size=640M", "-numa", "node,nodeid=0,memdev=r0,cpus=0", "-numa", "node,nodeid=1,memdev=r1,cpus=1"],
      "x86_64-q35-numa-4g": ["qemu-system-x86_64", "-machine", "q35", "-m", "4G", "-smp", "2", "-object", "memory-backend-ram,id=r0,size=3G", "-object", "memory-backend-ram,id=r1,size=1G", "-numa", "node,nodeid=0,memdev=r0,cpus=0", "-numa", "node,nodeid=1,memdev=r1,cpus=1"],
      "x86_64-q35-pcie-ports": ["qemu-system-x86_64", "-machine", "q35", "-m", "1G", "-device", "pcie-root-port,id=rp1,chassis=1,slot=1", "-device", "pcie-root-port,id=rp2,chassis=2,slot=2", "-device", "e1000e,bus=rp1", "-device", "virtio-gpu-pci,bus=rp2", "-device", "pcie-pci-bridge,id=pb1,bus=pcie.0", "-device", "pci-bridge,id=br2,chassis_nr=3,bus=pb1", "-device", "e1000,bus=br2", "-device", "virtio-net-pci,netdev=n0", "-netdev", "user,id=n0"],
      "x86_64-pc-smm-off": ["qemu-system-x86_64", "-machine", "pc,smm=off", "-m", "256M"],
      "x86_64-q35-smm-on-ich9": ["qemu-system-x86_64", "-machine", "q35,smm=on", "-m", "512M", "-device", "ich9-intel-hda", "-device", "ich9-usb-ehci1", "-device", "ich9-ahci"],
      "x86_64-microvm-pcie-rtc": ["qemu-system-x86_64", "-machine", "microvm,pcie=on,rtc=on", "-m", "256M", "-device", "virtio-net-pci,netdev=n0", "-netdev", "user,id=n0"],
      "x86_64-pc-8g": ["qemu-system-x86_64", "-machine", "pc", "-m", "8G"],
      "x86_64-q35-6g-blk": ["qemu-system-x86_64", "-machine", "q35", "-m", "6G", "-device", "virtio-blk-pci,drive=d0", "-drive", "if=none,id=d0,file=null-co://,format=raw"],
      "x86_64-q35-2816m": ["qemu-system-x86_64", "-machine", "q35", "-m", "2816M"],
      "aarch64-virt-8g": ["qemu-system-aarch64", "-machine", "virt,highmem=on", "-cpu", "cortex-a57", "-m", "8G"],
      "arm-mps2-an505": ["qemu-system-arm", "-machine", "mps2-an505"],
      "arm-mps2-an521": ["qemu-system-arm", "-machine", "mps2-an521"],
      "arm-mps3-an524": ["qemu-system-arm", "-machine", "mps3-an524"],
      "arm-musca-b1": ["qemu-system-arm", "-machine", "musca-b1"],
      "arm-mps2-an511": ["qemu-system-arm", "-machine", "mps2-an511"],
      "arm-virt-highmem": ["qemu-system-arm", "-machine", "virt,highmem=on", "-cpu", "cortex-a15", "-m", "1G", "-device", "virtio-rng-pci"],
      "arm-vexpress-a15": ["qemu-system-arm", "-machine", "vexpress-a15", "-m", "256M"],
      "aarch64-sbsa-ref-4g": ["qemu-system-aarch64", "-machine", "sbsa-ref", "-m", "4G"],
      "aarch64-xlnx-versal-virt": ["qemu-system-aarch64", "-machine", "xlnx-versal-virt", "-m", "2G"],
      "arm-mcimx7d-sabre": ["qemu-system-arm", "-machine", "mcimx7d-sabre", "-m", "256M"],
      "arm-tosa": ["qemu-system-arm", "-machine", "tosa"],
      "arm-spitz": ["qemu-system-arm", "-machine", "spitz"],
      "aarch64-virt-its-rootport": ["qemu-system-aarch64", "-machine", "virt,virtualization=on,secure=on,its=on,gic-version=3", "-cpu", "cortex-a57", "-m", "1G", "-device", "pcie-root-port,id=rp1,chassis=1", "-device", "virtio-blk-pci,drive=d0,bus=rp1", "-drive", "if=none,id=d0,file=null-co://,format=raw", "-device", "virtio-net-pci,netdev=n0", "-netdev", "user,id=n0"],
      "riscv64-virt-pci-devs": ["qemu-system-riscv64", "-machine", "virt", "-m", "512M", "-device", "virtio-net-pci,netdev=n0", "-netdev", "user,id=n0", "-device", "virtio-rng-pci", "-device", "pcie-root-port,id=rp1,chassis=1", "-device", "virtio-gpu-pci,bus=rp1"],
      "riscv64-spike-1g": ["qemu-system-riscv64", "-machine", "spike", "-m", "1G"],
      "riscv64-sifive_e": ["qemu-system-riscv64", "-machine", "sifive_e"],
      "ppc-mac99": ["qemu-system-ppc", "-machine", "mac99", "-m", "256M"],
      "ppc-g3beige": ["qemu-system-ppc", "-machine", "g3beige", "-m", "256M"],
      "ppc64-pseries": ["qemu-system-ppc64", "-machine", "pseries", "-m", "1G"],
      "ppc-sam460ex": ["qemu-system-ppc", "-machine", "sam460ex", "-m", "512M"],
      "ppc-bamboo": ["qemu-system-ppc", "-machine", "bamboo", "-m", "256M"],
      "ppc-40p": ["qemu-system-ppc", "-machine", "40p", "-m", "128M"],
      "ppc64-powernv": ["qemu-system-ppc64", "-machine", "powernv", "-m", "2G"],
      "mips-malta": ["qemu-system-mips", "-machine", "malta", "-m", "256M"],
      "mips-mipssim": ["qemu-system-mips", "-machine", "mipssim"],
      "mips64el-fuloong2e": ["qemu-system-mips64el", "-machine", "fuloong2e", "-m", "256M"],
      "mips64el-boston": ["qemu-system-mips64el", "-machine", "boston", "-m", "1G", "-bios", ZERO],
      "m68k-virt": ["qemu-system-m68k", "-machine", "virt", "-m", "128M"],
      "m68k-q800": ["qemu-system-m68k", "-machine", "q800", "-m", "128M", "-bios", ZERO],
      "m68k-mcf5208evb": ["qemu-system-m68k", "-machine", "mcf5208evb", "-kernel", ZERO],
      "sparc-SS-5": ["qemu-system-sparc", "-machine", "SS-5", "-m", "128M"],
      "sparc-SS-20": ["qemu-system-sparc", "-machine", "SS-20", "-m", "256M"],
      "sparc-leon3_generic": ["qemu-system-sparc", "-machine", "leon3_generic", "-bios", ZERO],
      "sparc64-sun4u": ["qemu-system-sparc64", "-machine", "sun4u", "-m", "256M"],
      "s390x-s390-ccw-virtio": ["qemu-system-s390x", "-machine", "s390-ccw-virtio", "-m", "512M"],
      "hppa-hppa": ["qemu-system-hppa", "-machine", "hppa", "-m", "256M"],
      "alpha-clipper": ["qemu-system-alpha", "-machine", "clipper", "-m", "256M"],
      "microblaze-petalogix-s3adsp1800": ["qemu-system-microblaze", "-machine", "petalogix-s3adsp1800"],
      "sh4-r2d": ["qemu-system-sh4", "-machine", "r2d"],
      "xtensa-lx60": ["qemu-system-xtensa", "-machine", "lx60"],
      "or1k-or1k-sim": ["qemu-system-or1k", "-machine", "or1k-sim"],
      "or1k-virt": ["qemu-system-or1k", "-machine", "virt"],
      "loongarch64-virt": ["qemu-system-loongarch64", "-machine", "virt", "-m", "1G"],
      "avr-mega2560": ["qemu-system-avr", "-machine", "mega2560"],
      "rx-gdbsim-r5f562n8": ["qemu-system-rx", "-machine", "gdbsim-r5f562n8", "-bios", ZERO],
      "tricore-KIT_AURIX_TC277_TRB": ["qemu-system-tricore", "-machine", "KIT_AURIX_TC277_TRB"],
      "nios2-10m50-ghrd": ["qemu-system-nios2", "-machine", "10m50-ghrd"],
    }
    only = sys.argv[2:] or list(machines)
    for n in only:
        try:
            cap(n, machines[n], outdir); print("ok", n)
        except Exception as e:
            print("FAIL", n, e)
