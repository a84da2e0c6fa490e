"""Chinese dates: Django's 2026年12月1日, with seconds where the studio shows them."""

DATETIME_FORMAT = "Y年n月j日 H:i:s"
