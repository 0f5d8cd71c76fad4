"""gapse's Gradio demo (installed as the package ``gapse_demo``): ``app.py`` layout and callbacks, ``figures.py`` plots."""
