"""Reports: parameters, FLOPs and receptive fields, their check against torch and fvcore, and diagrams."""
