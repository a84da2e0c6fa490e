"""The studio's own settings, plus a URLconf that adds the bench's baseline views."""

import warnings

from studio.settings import *  # noqa: F403

ROOT_URLCONF = "apibench.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": True,
    "root": {"level": "ERROR", "handlers": []},
}
# WhiteNoise warns that collectstatic never ran: the bench serves no static files.
warnings.filterwarnings("ignore", message="No directory at")
