"""Support modules for bench/api_throughput.py: settings and a URLconf with the baseline view."""
