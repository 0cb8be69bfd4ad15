# A LOGGING_CONFIG callable that counts how many times this process applied the project's LOGGING
# (see DEMOAPP_COUNT_LOGGING in djangoproj/settings.py).
import logging.config

CALLS = 0


def configure(config):
    global CALLS
    CALLS += 1
    logging.config.dictConfig(config)
