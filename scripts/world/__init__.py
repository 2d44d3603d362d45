"""The embedded synthetic world of the demo (scripts/make_world.py): scenes, text model, encoders."""
