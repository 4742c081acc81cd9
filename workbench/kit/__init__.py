"""Helpers plugins share that are not the plugin contract: the robust one-hot encoder (`encoding`), artifact
formats that cannot run code (`artifacts`), the chart theme and offline rendering (`charts`), and quieting the
Hugging Face libraries (`huggingface`). Plugins reach them through `workbench.sdk`."""
