FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY gateway gateway
COPY strategies strategies
COPY risk risk
COPY ops ops
COPY config config
COPY deploy deploy
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["okxmm"]
