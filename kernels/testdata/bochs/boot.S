/* The Bochs call runner of kernels/bochs_amd64_test.go: a boot sector that loads
   the rest of this file, enters 64-bit mode with 4 GB identity-mapped and AVX-512
   state enabled, reads the test binary's segments and the test's memory from the
   disk (ATA PIO), calls the Go assembly functions of the call table (ABI0: the
   argument frame at 8(SP), copied back after the call for its results), prints the dump table's ranges as hex on port 0xE9 and
   asks Bochs to shut down. Parameters (sector 1) are written by the test.
   Build: as --64 -o boot.o boot.S && ld -Ttext=0x7C00 --oformat binary -o boot.bin boot.o */
        .code16
        .text
        .globl _start
_start:
        cli
        cld
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7C00, %sp
        mov $dap, %si
        mov $0x42, %ah
        int $0x13
        jc bootfail
        ljmp $0, $stage2
bootfail:
        hlt
        jmp bootfail
        .align 4
dap:    .byte 16, 0
        .word 15         /* sectors 1..15 of this image */
        .word 0x7E00, 0
        .quad 1
        .org 510
        .word 0xAA55

/* sector 1: parameters written by the test */
params:
p_calls: .quad 0   /* call table: {fn, frame bytes, frame address}, fn 0 ends */
p_dumps: .quad 0   /* dump table: {addr, len}, len 0 ends */
p_next:  .quad 0   /* the running call's table entry */
p_loads: .quad 0   /* load table follows: {first sector, sectors, address}, sectors 0 ends */
        .org 1024
stage2:
        in $0x92, %al
        or $2, %al
        out %al, $0x92
        lgdtl gdtr
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x18, $pm32
        .code32
pm32:
        mov $0x20, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x1000, %edi      /* PML4 0x1000, PDPT 0x2000, 4 PDs 0x3000-0x6FFF: identity 4 GB */
        xor %eax, %eax
        mov $0x1800, %ecx
        rep stosl
        movl $0x2003, 0x1000
        mov $0x2000, %edi
        mov $0x3003, %eax
        mov $4, %ecx
1:      mov %eax, (%edi)
        add $0x1000, %eax
        add $8, %edi
        loop 1b
        mov $0x3000, %edi
        mov $0x83, %eax
        xor %edx, %edx
        mov $2048, %ecx
2:      mov %eax, (%edi)
        mov %edx, 4(%edi)
        add $0x200000, %eax
        adc $0, %edx
        add $8, %edi
        loop 2b
        mov $0x1000, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $((1<<5)|(1<<9)|(1<<10)|(1<<18)), %eax   /* PAE, OSFXSR, OSXMMEXCPT, OSXSAVE */
        mov %eax, %cr4
        mov $0xC0000080, %ecx
        rdmsr
        or $(1<<8), %eax                           /* EFER.LME */
        wrmsr
        mov %cr0, %eax
        and $~(1<<2), %eax                         /* no x87 emulation */
        or $((1<<31)|(1<<1)), %eax                 /* paging, MP */
        mov %eax, %cr0
        ljmp $8, $long64
        .code64
long64:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        xor %ecx, %ecx
        mov $0xE7, %eax        /* XCR0: x87, SSE, AVX, opmask, ZMM0-15 upper halves, ZMM16-31 */
        xor %edx, %edx
        xsetbv
        mov $0x9F000, %rsp
        mov $p_loads+8, %r11
nextload:
        mov (%r11), %ebx
        mov 8(%r11), %r8
        mov 16(%r11), %rdi
        add $24, %r11
        test %r8, %r8
        jz loaded
load:   test %r8, %r8
        jz nextload
        mov $128, %r9
        cmp %r9, %r8
        cmovb %r8, %r9
        mov $0x1F7, %dx
3:      in %dx, %al
        test $0x80, %al
        jnz 3b
        mov %ebx, %eax
        shr $24, %eax
        and $0x0F, %al
        or $0xE0, %al
        mov $0x1F6, %dx
        out %al, %dx
        mov %r9d, %eax
        mov $0x1F2, %dx
        out %al, %dx
        mov %ebx, %eax
        inc %dx
        out %al, %dx
        shr $8, %eax
        inc %dx
        out %al, %dx
        shr $8, %eax
        inc %dx
        out %al, %dx
        mov $0x20, %al
        mov $0x1F7, %dx
        out %al, %dx
        mov %r9, %r10
4:      mov $0x1F7, %dx
5:      in %dx, %al
        test $0x80, %al
        jnz 5b
        test $0x01, %al
        jnz diskerr
        test $0x08, %al
        jz 5b
        mov $0x1F0, %dx
        mov $256, %ecx
        rep insw
        dec %r10
        jnz 4b
        add %r9d, %ebx
        sub %r9, %r8
        jmp load
diskerr:
        mov $msg_disk, %rsi
        call puts
        jmp shutdown
loaded:
        mov p_calls, %rsi
calls:  mov (%rsi), %rax      /* entry: function, frame bytes, frame address */
        test %rax, %rax
        jz dumps
        mov %rsi, p_next
        mov 8(%rsi), %rcx
        mov 16(%rsi), %rsi
        mov $0x9F000, %rsp
        sub %rcx, %rsp
        and $-16, %rsp
        mov %rsp, %rdi
        rep movsb
        call *%rax
        cld                     /* the frame goes back: results follow the arguments */
        mov p_next, %rax
        mov 8(%rax), %rcx
        mov 16(%rax), %rdi
        mov $0x9F000, %rsi
        sub %rcx, %rsi
        and $-16, %rsi
        rep movsb
        mov $0x9F000, %rsp
        mov p_next, %rsi
        add $24, %rsi
        jmp calls
dumps:
        mov $msg_begin, %rsi
        call puts
        mov p_dumps, %rsi
6:      mov (%rsi), %rbx
        mov 8(%rsi), %rcx
        test %rcx, %rcx
        jz dumped
        add $16, %rsi
7:      movzbl (%rbx), %eax
        shr $4, %eax
        movb hexdig(%rax), %al
        out %al, $0xE9
        movzbl (%rbx), %eax
        and $15, %eax
        movb hexdig(%rax), %al
        out %al, $0xE9
        inc %rbx
        dec %rcx
        jnz 7b
        mov $10, %al
        out %al, $0xE9
        jmp 6b
dumped:
        mov $msg_end, %rsi
        call puts
shutdown:
        mov $0x8900, %dx
        mov $msg_shutdown, %rsi
        mov $8, %ecx
        rep outsb
        cli
8:      hlt
        jmp 8b
puts:   lodsb
        test %al, %al
        jz 9f
        out %al, $0xE9
        jmp puts
9:      ret

        .align 16
gdt:    .quad 0
        .quad 0x00209A0000000000  /* 0x08: 64-bit code */
        .quad 0x0000920000000000  /* 0x10: data */
        .quad 0x00CF9A000000FFFF  /* 0x18: 32-bit code */
        .quad 0x00CF92000000FFFF  /* 0x20: 32-bit data */
gdtr:   .word 39
        .long gdt
hexdig: .ascii "0123456789abcdef"
msg_begin: .asciz "\nBXRUN-BEGIN\n"
msg_end:   .asciz "BXRUN-END\n"
msg_disk:  .asciz "\nBXRUN-DISKERROR\n"
msg_shutdown: .ascii "Shutdown"
        .org 8192
