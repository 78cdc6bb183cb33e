import { Box } from "./box.js";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
const t0 = Date.now();
const box = await Box.boot({});
console.log("up", box.name, Date.now() - t0);
let ns = readlinkSync(`/proc/${box.pid}/ns/pid`);
const watch = setInterval(() => {
  const out: string[] = [];
  try { ns = readlinkSync(`/proc/${box.pid}/ns/pid`); } catch {}
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try { if (readlinkSync(`/proc/${p}/ns/pid`) === ns || /nsenter|unshare/.test(readFileSync(`/proc/${p}/comm`, "utf8"))) { const st = readFileSync(`/proc/${p}/stat`, "utf8"); out.push(`${p}:${st.slice(st.indexOf("(")+1, st.lastIndexOf(")"))}:${st.slice(st.lastIndexOf(")")+2, st.lastIndexOf(")")+3)}`); } } catch {}
  }
  console.log(Date.now() - t0, out.join(" "));
}, 500);
await box.writeFile("/etc/systemd/system/rb.service", `[Unit]
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'if [ ! -e /var/lib/rb ]; then touch /var/lib/rb; systemctl reboot --no-block; fi'
[Install]
WantedBy=multi-user.target
`);
await box.run(["systemctl", "enable", "rb.service"]);
await box.exec(["systemctl", "reboot"]);
console.log("exit", await box.waitForExit(), Date.now() - t0);
console.log("state", await box.bootAgain(), Date.now() - t0);
console.log("exit", await box.waitForExit(), Date.now() - t0);
console.log("state", await box.bootAgain(), Date.now() - t0);
clearInterval(watch);
await box.destroy();
