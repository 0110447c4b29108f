/** The qemu fabric's options that the configuration reads, kept free of the fabric itself. */

/** `--qemu-accel`: KVM only where it measures faster than TCG (`auto`), or as asked. */
export const QEMU_ACCELS = ['auto', 'kvm', 'tcg'] as const
export type AccelChoice = (typeof QEMU_ACCELS)[number]
