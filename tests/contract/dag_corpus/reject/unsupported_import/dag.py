from airflow.sdk import DAG
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

with DAG("unsupported_import"):
    pass
