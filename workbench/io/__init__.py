"""Reading data: single files with one-line errors (`tables`), and files, parts and object stores as one data
source that can be read whole, in batches or out of core (`sources`)."""
