"""SIP endpoint (pjsua2): calls, media ports, DTMF, transfer, recording. Only `ivr serve` imports it."""
