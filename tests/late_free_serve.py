"""Runs `ivr serve` with every ended call's Python object kept a while after its DISCONNECTED and then dropped, as
an exception's traceback kept one in a database outage. Usage: python late_free_serve.py IVR serve ARGS...

What pjsua2 must not do then: let the late object touch the call that now has its pjsua id."""
import sys
import threading

from telephony.server import IvrServer

kept: list = []
_disconnected, _incoming = IvrServer.disconnected, IvrServer.incoming


def disconnected(self, call):
    kept.append(call)
    _disconnected(self, call)


def incoming(self, account, prm):
    _incoming(self, account, prm)
    if kept:   # a second later, on the pj thread (as gc.collect() would), the ended calls' objects go
        late = kept[:]
        kept.clear()
        threading.Timer(1.0, lambda: self.pj.call_soon(late.clear)).start()


IvrServer.disconnected, IvrServer.incoming = disconnected, incoming

if __name__ == "__main__":
    from ivr.cli import main

    sys.argv = ["ivr", *sys.argv[2:]]
    sys.exit(main())
