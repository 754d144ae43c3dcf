"""IoT task placement: ``schedgym/IoTPlacement-v0``."""
