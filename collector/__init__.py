"""The edge collector: polls a commune's real devices and publishes the MQTT contract."""
