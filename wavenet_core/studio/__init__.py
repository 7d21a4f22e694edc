"""The Gradio studio: layout, events and rendering over the public API; no model logic."""
