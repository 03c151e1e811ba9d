"""Simulated vendor devices: the HTTP APIs of Hikvision ISAPI, Dahua CGI and ONVIF cameras/NVRs.

Shaped after the vendors' documents, they stand in for real cameras in the tests, the bench and
``ioc demo`` (:mod:`simulators.vendors.demo_cameras`). Product code (``collector``) never imports
them; ``tests/collector/test_import_graph.py`` checks that.
"""
