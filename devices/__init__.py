"""Device catalogue (types, metrics) and registry (communes, sites, devices, topology)."""
