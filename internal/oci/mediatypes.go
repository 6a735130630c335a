package oci

// Docker's image media types (Docker Image Manifest V2, Schema 2), which
// archives and registries use beside the OCI ones of image-spec.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
)
