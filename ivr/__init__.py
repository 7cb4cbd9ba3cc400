"""The IVR application: command line, and (next) the dialog engine and per-call sessions."""
