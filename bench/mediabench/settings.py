"""The studio's own settings with a URLconf that adds the media bench's naive baseline."""

import warnings

from studio.settings import *  # noqa: F403

ROOT_URLCONF = "mediabench.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": True,
    "root": {"level": "ERROR", "handlers": []},
}
# WhiteNoise warns that collectstatic never ran: the bench serves no static files.
warnings.filterwarnings("ignore", message="No directory at")
