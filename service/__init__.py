"""The forecasting server: FastAPI over model/."""
