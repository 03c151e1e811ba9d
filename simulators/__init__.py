"""Simulated commune devices (cameras, NVRs, loudspeakers, links) speaking the MQTT contract.

``world`` is the pure, seeded simulation; ``history`` replays it without a broker; ``fleet``
publishes it over MQTT in (accelerated) real time; ``scenario`` / ``drill`` inject faults and
check the stack's reaction.
"""
