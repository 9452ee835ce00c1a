"""Stand-in for modules/call_queue.py (v1.10.1): `queue_lock`, the lock the web-ui's GPU jobs
(generation, its own batch jobs) hold while they run (a FIFOLock there: waiters served in
order)."""
import threading

queue_lock = threading.Lock()
