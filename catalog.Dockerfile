# The catalog image: serves the file-based catalog in catalog/ over gRPC with
# opm, as a CatalogSource's registry pod runs it. Built by `make catalog-build`.
# catalog/template.yaml (the human-edited source of the catalog) is listed in
# catalog/.indexignore, so opm ignores it.
FROM quay.io/operator-framework/opm:v1.73.0

ENTRYPOINT ["/bin/opm"]
CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]

COPY catalog /configs
# Build the serve cache at image build time: the pod starts without
# rebuilding it, and a catalog opm cannot load fails the build, not the pod.
RUN ["/bin/opm", "serve", "/configs", "--cache-dir=/tmp/cache", "--cache-only"]

LABEL operators.operatorframework.io.index.configs.v1=/configs
