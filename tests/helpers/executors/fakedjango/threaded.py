# A preload module that starts a background thread at import (like a memory logger): the pool
# must refuse to fork from a process with threads and fall back to spawning.
import threading
import time

threading.Thread(target=lambda: time.sleep(3600), name="memory-logger", daemon=True).start()
