/* Why this file exists: .ci/macos type-checks the macOS builds on Linux (clippy), and
 * ring's build script compiles ring's C code for the Apple target even then. There is
 * no Apple SDK here, so clang gets -nostdlibinc and these stubs instead. ring's base.h
 * includes this header under __APPLE__ and reads only the TARGET_OS_* switches below.
 * Nothing built with it is ever linked. */
#pragma once
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_SIMULATOR 0
