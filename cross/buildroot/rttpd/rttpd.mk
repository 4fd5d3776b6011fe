################################################################################
#
# rttpd
#
################################################################################

RTTPD_VERSION = 0.1.0
# PLACEHOLDER: rttpd has no published release yet.  Point RTTPD_SITE at the
# directory of the release tarball (it must contain Cargo.lock and
# board-configs/) and add rttpd.hash.  For a local checkout instead:
#   RTTPD_OVERRIDE_SRCDIR = /path/to/rttpd    (in local.mk, see README.md)
RTTPD_SITE = https://example.invalid/rttpd/releases/download/v$(RTTPD_VERSION)
RTTPD_SOURCE = rttpd-$(RTTPD_VERSION).tar.gz
RTTPD_LICENSE = Apache-2.0 or MIT
# The tree ships no license texts yet; Cargo.toml carries the SPDX
# expression.  Use LICENSE-APACHE LICENSE-MIT once they exist.
RTTPD_LICENSE_FILES = Cargo.toml

# cargo-package builds with `cargo build --offline --locked` (dependencies
# are vendored at download time) and installs with `cargo install --root
# $(TARGET_DIR)/usr`, which puts the binary in /usr/bin.  The init scripts
# and the systemd unit expect /usr/sbin/rttpd.
define RTTPD_MOVE_TO_SBIN
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/usr/sbin
	mv -f $(TARGET_DIR)/usr/bin/rttpd $(TARGET_DIR)/usr/sbin/rttpd
endef
RTTPD_POST_INSTALL_TARGET_HOOKS += RTTPD_MOVE_TO_SBIN

RTTPD_BOARD_CONFIG = $(call qstrip,$(BR2_PACKAGE_RTTPD_BOARD_CONFIG))

# /etc/rttpd.conf: one of the source tree's board-configs/ (Config.in).
define RTTPD_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/board-configs/$(RTTPD_BOARD_CONFIG) \
		$(TARGET_DIR)/etc/rttpd.conf
endef
RTTPD_POST_INSTALL_TARGET_HOOKS += RTTPD_INSTALL_CONFIG

# BusyBox init / SysV: the small script next to this file.
define RTTPD_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(RTTPD_PKGDIR)/S50rttpd \
		$(TARGET_DIR)/etc/init.d/S50rttpd
endef

# systemd: the unit from the source tree (WantedBy=multi-user.target).
define RTTPD_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/board-configs/systemd/rttpd.service \
		$(TARGET_DIR)/usr/lib/systemd/system/rttpd.service
endef

$(eval $(cargo-package))
