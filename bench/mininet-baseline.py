"""Same-run baseline for bench/twin-up.ts: Debian's mininet building a 50-node topology (a linear chain of
LinuxBridge switches, one host on each) with no controller, timed from Mininet() to every host answering
a command, then stop(). Run only inside private net + mount + pid namespaces with a private /tmp (the
bench does this), because mininet's clean-up is machine-wide. Prints one JSON line."""
import json
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import LinearTopo

nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 50
setLogLevel('error')
t0 = time.monotonic()
net = Mininet(topo=LinearTopo(k=nodes // 2, n=1), switch=LinuxBridge, controller=None, waitConnected=False)
net.start()
for h in net.hosts:
    h.cmd('true')
t1 = time.monotonic()
# Reachability as in the twin runs: the first host pings the last.
ok = '1 received' in net.hosts[0].cmd('ping -c1 -W2 %s' % net.hosts[-1].IP())
net.stop()
t2 = time.monotonic()
print(json.dumps({'nodes': len(net.hosts) + len(net.switches), 'up_s': round(t1 - t0, 3), 'down_s': round(t2 - t1, 3), 'ping_ok': ok}))
