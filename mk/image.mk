# The appliance image (docs/image.md): make image, make update, make qemu-test.
#
#   make image                  kibitzbox.img, a full SD card image with /perm
#   make image DEV=/dev/sdX     write straight to a card (refuses mounted/system disks)
#   make update [BOX=<ip>]      push a new build over the air (A/B root, /perm kept)
#   make qemu-test              build, boot, probe and OTA-update the image in qemu

# qemu-system-arm brings qemu-system-aarch64; the arm64 EFI firmware comes
# with the pinned gok module (third_party/edk2-*).
# mtools and squashfs-tools let the test read the image's boot and root file
# systems without mounting them.
APT_PACKAGES += qemu-system-x86 qemu-system-arm e2fsprogs util-linux mtools squashfs-tools

GOK := $(CURDIR)/bin/gok
GOK_VERSION := v0.0.0-20260109180632-8ed49b4fafc7
GOKRAZY_DIR := $(CURDIR)/gokrazy
# gok keeps its password in $XDG_CONFIG_HOME/gokrazy/http-password.txt. We
# point it into the git-ignored gokrazy/secrets/, so the password belongs to
# this checkout (not a default, never committed), and pass go's own GOENV
# along so the go builds gok runs still see the user's go settings.
GOKRAZY_SECRETS ?= $(GOKRAZY_DIR)/secrets
GOKRAZY_PASSWORD := $(GOKRAZY_SECRETS)/gokrazy/http-password.txt
GOK_ENV = XDG_CONFIG_HOME=$(GOKRAZY_SECRETS) GOENV="$$($(GO) env GOENV)" GOK=$(GOK)
# Byte size of the image file; perm gets what is left after 1.1 GiB of boot
# and root partitions (2 GiB → 944 MiB of /perm). A card bigger than the image
# keeps that /perm size; build with the card's exact size to use all of it.
IMAGE_BYTES ?= 2147483648
IMAGE ?= kibitzbox.img
DEV ?=
BOX ?=
# gokrazy's web UI and its update API speak TLS with a certificate of this
# checkout (docs/image.md), kept with the password and made by the first make
# image. WEB_NAMES are the names and addresses it is valid for; make update
# adds BOX. Give the box's fixed LAN address here if it has one.
WEB_CERT_DIR = $(GOKRAZY_SECRETS)/gokrazy/web-tls
WEB_NAMES ?= kibitzbox,kibitzbox.local
DERIVE = $(GO) run ./gokrazy/cmd/deriveinstance -from gokrazy/pi -name pi -version $(VERSION) -web-cert $(WEB_CERT_DIR) -web-names $(WEB_NAMES) -gok-config $(GOKRAZY_SECRETS)
# The Wi-Fi firmware and regulatory.db for /lib/firmware (config.json maps this
# directory with ExtraFilePaths); the hotspot's mk file provides the target.
FIRMWARE_DIR ?= bin/firmware
FIRMWARE_TARGET ?= firmware

.PHONY: image update qemu-test gok gokrazy-password $(FIRMWARE_TARGET)

# No recipe here: the hotspot's mk file gives this target its recipe; this
# line only makes sure the name exists.
$(FIRMWARE_TARGET):

gok: $(GOK)
$(GOK): tools/gok/go.mod tools/gok/go.sum
	cd tools/gok && $(GO) build -o $(GOK) github.com/gokrazy/tools/cmd/gok

gokrazy-password: $(GOKRAZY_PASSWORD)
$(GOKRAZY_PASSWORD):
	@mkdir -p $(dir $@) && chmod 700 $(GOKRAZY_SECRETS)
	@umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' 'xy' | tr -d '\n' >$@
	@echo "image: generated a new gokrazy password in $@"

image: $(GOK) gokrazy-password $(FIRMWARE_TARGET)
	@test -d $(FIRMWARE_DIR) || { echo "image: $(FIRMWARE_DIR) is missing (make $(FIRMWARE_TARGET) should create it)"; exit 1; }
	$(DERIVE) -parent $(GOKRAZY_SECRETS)/image >/dev/null
	$(GOK_ENV) gokrazy/mkimage.sh $(GOKRAZY_SECRETS)/image pi $(if $(DEV),$(DEV),$(IMAGE)) $(IMAGE_BYTES)
	@rm -f $(WEB_CERT_DIR)/unconfirmed
	@echo
	@echo "gokrazy web UI and OTA updates: https://<box>:8443/  user gokrazy  password $$(cat $(GOKRAZY_PASSWORD))"
	@echo "(the password and the UI's certificate are kept in $(GOKRAZY_SECRETS)/gokrazy; make update needs both)"
	@$(if $(DEV),,echo "flash: sudo dd if=$(IMAGE) of=/dev/sdX bs=4M conv=fsync status=progress  (or Raspberry Pi Imager / balenaEtcher)")

# Both build from a copy of gokrazy/pi in $(GOKRAZY_SECRETS) whose
# GoBuildFlags stamp $(VERSION) (git describe) into the three programs, so
# the box reports the version it was built from (deriveinstance -version).
# Without BOX, gok updates the host named in config.json ("kibitzbox", which
# works where the LAN's DNS knows the box's DHCP hostname). gok verifies the
# box's certificate, which must name BOX; when it does not yet (or the box
# predates TLS), the certificate gains the name and this one upload goes with
# gok's --insecure (encrypted, not verified; HTTP for a box without TLS),
# while gok's check after the reboot verifies the new certificate. Until an
# update succeeds, every try goes that way (the marker web-tls/unconfirmed).
update: $(GOK) $(FIRMWARE_TARGET)
	@test -f $(GOKRAZY_PASSWORD) || { echo "update: no $(GOKRAZY_PASSWORD): the box only accepts the password it was built with"; exit 1; }
	@out=$$($(DERIVE) -parent $(GOKRAZY_SECRETS)/update $(if $(BOX),-update-host $(BOX))) || exit 1; \
	insecure=; case "$$out" in *new-web-certificate*) insecure=--insecure; \
	  echo "update: the box does not serve this certificate yet, so this upload cannot verify it (from the next update on it does)";; esac; \
	echo "$(GOK) --parent_dir $(GOKRAZY_SECRETS)/update -i pi update $$insecure"; \
	$(GOK_ENV) $(GOK) --parent_dir $(GOKRAZY_SECRETS)/update -i pi update $$insecure && rm -f $(WEB_CERT_DIR)/unconfirmed

# The image area (integration/image): boot, probe and update the image in
# qemu, and mkimage.sh against a loop device. qemu-test is its old name.
.PHONY: test-image
qemu-test: test-image
test-image: $(GOK) $(FIRMWARE_TARGET)
	@echo "== integration/image: boot, probe and update the image in qemu"
	@mkdir -p bin && rm -f bin/qemu-test-figures.txt
	GOK=$(GOK) IMAGETEST_FIGURES=$(CURDIR)/bin/qemu-test-figures.txt \
	  $(GO) test -json $(INTEGRATION_FLAGS) ./integration/image/ | $(GO) run ./tools/testreport
	@echo "== qemu-test figures (copy into docs/image.md)"; cat bin/qemu-test-figures.txt

# Refresh the builddirs' go.sum after go.mod changed (gok builds with
# -mod=mod, so a stale go.sum only breaks offline builds). Commit the result.
.PHONY: gokrazy-sums
gokrazy-sums: $(GOK) gokrazy-password $(FIRMWARE_TARGET)
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && for i in pi vmtest; do \
	  $(GOK_ENV) $(GOK) --parent_dir $(GOKRAZY_DIR) -i $$i overwrite --full $$tmp/$$i.img --target_storage_bytes=1795170304 >/dev/null 2>&1 \
	    || { echo "gokrazy-sums: building $$i failed"; exit 1; }; done
	@git status --short gokrazy/*/builddir
