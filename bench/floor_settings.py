"""The site's settings with one more URL, /bench/floor (bench/floor_urls.py), for the throughput bench's floor."""

from web.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
