# The image every Airflow service and the sandbox run: the official Airflow image, the project's pinned
# requirements on top (the same files `make` installs), the code mounted by docker-compose.yaml.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

COPY --chown=airflow:root requirements.txt constraints.txt /opt/drift-repair/
RUN pip install --no-cache-dir -c /opt/drift-repair/constraints.txt -r /opt/drift-repair/requirements.txt

ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow
