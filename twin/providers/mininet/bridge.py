#!/usr/bin/python3
"""Patronus mininet bridge: drives Debian's mininet for the twin's mininet provider.

Runs inside a private network + mount + pid namespace with a private /tmp (the provider starts it that
way), because mininet's own clean-up kills processes machine-wide, deletes every `*-ethN` link and
removes /tmp/*.log: in the sandbox it can only touch the sandbox.

Protocol: JSON lines. One request per line, {"id": N, "op": ..., ...}; one reply per request,
{"id": N, "ok": true, "result": ...} or {"id": N, "ok": false, "error": "..."}. Requests are read from
stdin until it closes (the deployer's session), then from connections to the unix socket given with
--socket (later CLI calls): one request per connection, one connection at a time, until "stop".

Ops:
  deploy {hosts: [name], links: [{a, ai, b, bi, mtu, bwa, bwb}]}   egress rate of each end in Mbit/s (TCLink, HTB) or null
  exec   {node, argv, input?, timeout?}  -> {code, stdout, stderr}
  spawn  {node, argv, log}               -> {pid}   a background process, output appended to `log`
  bw     {node, intf, bw}                -> {}      re-shape an interface (Mbit/s; null removes it)
  status {}                              -> {hosts: {name: pid}}
  stop   {}                              -> {}      stops mininet, then the bridge exits
"""
import argparse
import itertools
import json
import os
import socket
import subprocess
import sys

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host
from mininet.link import TCLink

# The protocol owns the real stdout; anything mininet prints goes to stderr (the provider's log file).
proto_out = os.fdopen(os.dup(1), 'w', buffering=1)
os.dup2(2, 1)

net = None


def deploy(req):
    global net
    if net is not None:
        raise RuntimeError('already deployed')
    # Mininet.init() would raise machine-wide limits (kernel.pty.max, fs.file-max): not ours to change.
    Mininet.inited = True
    net = Mininet(topo=None, build=False, controller=None, host=Host, link=TCLink, autoSetMacs=False)
    for name in req['hosts']:
        # ip=None: the provider configures every address itself, from the lab.
        net.addHost(name, ip=None)
    for l in req['links']:
        # Rate is per direction: each end shapes what it sends (HTB, as TCLink does it without netem).
        p1 = {'bw': l['bwa']} if l.get('bwa') is not None else {}
        p2 = {'bw': l['bwb']} if l.get('bwb') is not None else {}
        net.addLink(l['a'], l['b'], intfName1=l['ai'], intfName2=l['bi'], cls=TCLink, params1=p1, params2=p2)
    net.build()
    for l in req['links']:
        for n, i in ((l['a'], l['ai']), (l['b'], l['bi'])):
            net.get(n).cmd('ip link set dev %s mtu %d' % (i, l.get('mtu', 1500)))
    return {'hosts': {h.name: h.pid for h in net.hosts}}


def node(name):
    if net is None:
        raise RuntimeError('not deployed')
    if name not in net.nameToNode:
        raise KeyError('no node "%s" (known: %s)' % (name, ', '.join(sorted(net.nameToNode))))
    return net.nameToNode[name]


def run_exec(req):
    p = node(req['node']).popen(req['argv'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(req.get('input', '').encode(), timeout=req.get('timeout', 30))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += b'\n(timed out)'
    return {'code': p.returncode, 'stdout': out.decode(errors='replace'), 'stderr': err.decode(errors='replace')}


def run_spawn(req):
    log = open(req['log'], 'ab')
    p = node(req['node']).popen(req['argv'], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return {'pid': p.pid}


def reshape(req):
    intf = node(req['node']).intf(req['intf'])
    if req.get('bw') is None:
        intf.tc('%s qdisc del dev %s root')
    else:
        intf.config(bw=req['bw'])
    return {}


def stop(_req):
    global net
    if net is not None:
        net.stop()
        net = None
    return {}


OPS = {
    'deploy': deploy, 'exec': run_exec, 'spawn': run_spawn, 'bw': reshape, 'stop': stop,
    'status': lambda _r: {'hosts': {h.name: h.pid for h in net.hosts} if net else {}},
}


def serve(lines, reply):
    """Handle requests from an iterable of lines; returns True once a stop was handled."""
    for line in lines:
        if not line.strip():
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get('id')
            result = OPS[req['op']](req)
            reply({'id': rid, 'ok': True, 'result': result})
            if req['op'] == 'stop':
                return True
        except Exception as e:  # every failure goes back to the caller as data
            reply({'id': rid, 'ok': False, 'error': '%s: %s' % (type(e).__name__, e)})
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--socket', required=True)
    args = ap.parse_args()
    setLogLevel('warning')
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(64)

    def to_stdout(msg):
        try:
            proto_out.write(json.dumps(msg) + '\n')
        except BrokenPipeError:
            pass
    stopped = serve(sys.stdin, to_stdout)
    while not stopped:
        conn, _ = srv.accept()
        # One request per connection, then close: a client that stops reading (or never writes) cannot
        # hold the bridge for everyone else.
        conn.settimeout(30)
        with conn, conn.makefile('rw', buffering=1) as f:
            def to_conn(msg):
                try:
                    f.write(json.dumps(msg) + '\n')
                    f.flush()
                except OSError:
                    pass
            try:
                stopped = serve(itertools.islice(f, 1), to_conn)
            except OSError:
                pass
    srv.close()
    os.unlink(args.socket)


if __name__ == '__main__':
    main()
