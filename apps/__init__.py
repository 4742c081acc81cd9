"""The dashboard and report apps (`workbench app streamlit|shiny`); they hold no task logic of their own."""
