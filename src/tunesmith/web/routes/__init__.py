"""The studio's routes, one module per job: files, melody, audio, jobs (each an APIRouter)."""
