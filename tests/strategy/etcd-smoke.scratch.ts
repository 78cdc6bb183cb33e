import { startEtcd } from "../helpers/etcd.js";
import { EtcdGateway } from "../../src/strategy/etcd/gateway.js";
import { createEtcdLock } from "../../src/strategy/etcd/lock.js";

const etcd = await startEtcd({ tls: true, auth: { username: "agent", password: "pw", prefix: "com.coreos.airlock/" } });
try {
  const gw = new EtcdGateway({ endpoints: ["http://127.0.0.1:1", etcd.endpoint], timeoutMs: 5000, tls: { ca: etcd.tls!.ca, cert: etcd.tls!.cert, key: etcd.tls!.key }, auth: { username: "agent", password: "pw" }, log: (l, m, f) => console.log(l, m, f) });
  const a = createEtcdLock({ gateway: gw, id: "aaa", group: "default", initialSlots: 1, log: (l, m, f) => console.log(l, m, f) });
  const gw2 = new EtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 5000, tls: { ca: etcd.tls!.ca, cert: etcd.tls!.cert, key: etcd.tls!.key }, auth: { username: "agent", password: "pw" } });
  const b = createEtcdLock({ gateway: gw2, id: "bbb", group: "default", log: (l, m, f) => console.log("B", l, m, f) });
  console.log(await a.acquire());
  console.log(await a.acquire());
  console.log(await b.acquire());
  const waiting = b.acquire({ waitMs: 10000 });
  await new Promise((r) => setTimeout(r, 500));
  console.log(await a.release());
  console.log(await waiting);
  console.log(await etcd.etcdctl("get", "--prefix", "com.coreos"));
} finally {
  await etcd.destroy();
}
