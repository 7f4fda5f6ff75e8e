#include "textflag.h"

// func dotInt8AVX2(a, b []int8) int32
TEXT ·dotInt8AVX2(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-32, DX

loop32:
	CMPQ AX, DX
	JGE  reduce
	VPMOVSXBW (SI)(AX*1), Y2
	VPMOVSXBW (DI)(AX*1), Y3
	VPMADDWD  Y3, Y2, Y2
	VPADDD    Y2, Y0, Y0
	VPMOVSXBW 16(SI)(AX*1), Y4
	VPMOVSXBW 16(DI)(AX*1), Y5
	VPMADDWD  Y5, Y4, Y4
	VPADDD    Y4, Y1, Y1
	ADDQ      $32, AX
	JMP       loop32

reduce:
	VPADDD       Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVQ        X0, BX
	VZEROUPPER

tail:
	CMPQ    AX, CX
	JGE     done
	MOVBQSX (SI)(AX*1), R8
	MOVBQSX (DI)(AX*1), R9
	IMULQ   R9, R8
	ADDL    R8, BX
	INCQ    AX
	JMP     tail

done:
	MOVL BX, ret+48(FP)
	RET


// func dotF32FMA(a, b []float32) float32
// Requires AVX2 and FMA; len(b) >= len(a). Four 8-wide accumulators over
// 32-element blocks, then 8-element blocks, then scalars.
TEXT ·dotF32FMA(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX
	MOVQ   CX, DX
	ANDQ   $-32, DX

floop32:
	CMPQ        AX, DX
	JGE         ftail8
	VMOVUPS     (SI)(AX*4), Y4
	VMOVUPS     32(SI)(AX*4), Y5
	VMOVUPS     64(SI)(AX*4), Y6
	VMOVUPS     96(SI)(AX*4), Y7
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	VFMADD231PS 64(DI)(AX*4), Y6, Y2
	VFMADD231PS 96(DI)(AX*4), Y7, Y3
	ADDQ        $32, AX
	JMP         floop32

ftail8:
	MOVQ CX, DX
	ANDQ $-8, DX

floop8:
	CMPQ        AX, DX
	JGE         freduce
	VMOVUPS     (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ        $8, AX
	JMP         floop8

freduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VADDSS       X1, X0, X0

ftail1:
	CMPQ        AX, CX
	JGE         fdone
	VMOVSS      (SI)(AX*4), X1
	VFMADD231SS (DI)(AX*4), X1, X0
	INCQ        AX
	JMP         ftail1

fdone:
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func prefetchLines(p unsafe.Pointer, n int)
// Issues PREFETCHT0 for n consecutive 64-byte lines starting at p.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX

ploop:
	TESTQ      CX, CX
	JLE        pdone
	PREFETCHT0 (AX)
	ADDQ       $64, AX
	DECQ       CX
	JMP        ploop

pdone:
	RET

// func dotF32I8FMA(a []float32, b []int8) float32
// Requires AVX2 and FMA; len(b) >= len(a) and len(a) a multiple of 8: the
// caller adds the remainder. The codes are sign-extended to int32 and
// converted to float32 eight at a time.
TEXT ·dotF32I8FMA(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ   AX, AX
	MOVQ   CX, DX
	ANDQ   $-16, DX

qloop16:
	CMPQ        AX, DX
	JGE         qloop8
	VPMOVSXBD   (DI)(AX*1), Y4
	VPMOVSXBD   8(DI)(AX*1), Y5
	VCVTDQ2PS   Y4, Y4
	VCVTDQ2PS   Y5, Y5
	VFMADD231PS (SI)(AX*4), Y4, Y0
	VFMADD231PS 32(SI)(AX*4), Y5, Y1
	ADDQ        $16, AX
	JMP         qloop16

qloop8:
	CMPQ        AX, CX
	JGE         qreduce
	VPMOVSXBD   (DI)(AX*1), Y4
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS (SI)(AX*4), Y4, Y0
	ADDQ        $8, AX
	JMP         qloop8

qreduce:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VADDSS       X1, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+48(FP)
	RET

// func prefetchRows(base unsafe.Pointer, rows []uint32, stride int)
// Issues PREFETCHT0 for the first two cache lines of each row
// base + rows[i]*stride.
TEXT ·prefetchRows(SB), NOSPLIT, $0-40
	MOVQ base+0(FP), SI
	MOVQ rows_base+8(FP), DI
	MOVQ rows_len+16(FP), CX
	MOVQ stride+32(FP), DX
	XORQ AX, AX

rloop:
	CMPQ       AX, CX
	JGE        rdone
	MOVL       (DI)(AX*4), BX
	IMULQ      DX, BX
	PREFETCHT0 (SI)(BX*1)
	PREFETCHT0 64(SI)(BX*1)
	INCQ       AX
	JMP        rloop

rdone:
	RET
