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
        res[k] = r["return"]
        open(f"{outdir}/{name}.{k}.txt", "w").write(r["return"])
    open(f"{outdir}/{name}.cmd", "w").write(" ".join(cmd).replace(sock, "QMP_SOCKET") + "\n# QEMU 7.2.22 Debian; QMP human-monitor-command: info mtree, info mtree -D, info mtree -f; run-state prelaunch\n")
    ex("quit"); p.wait(timeout=10)
if __name__ == "__main__":
    outdir = sys.argv[1]
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
    }
    only = sys.argv[2:] or list(machines)
    for n in only:
        try:
            cap(n, machines[n], outdir); print("ok", n)
        except Exception as e:
            print("FAIL", n, e)
