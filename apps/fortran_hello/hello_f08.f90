! fortran_hello (use mpi_f08): the same calls through the Fortran 2008
! bindings, which Open MPI implements on top of its ompi_*_f functions.
program hello_f08
  use mpi_f08
  implicit none
  integer :: rank, nprocs, left, right, i, n
  type(MPI_Request) :: reqs(2)
  type(MPI_Status) :: stats(2), st
  double precision :: sendbuf(100), recvbuf(100), total
  logical :: ok

  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  call MPI_Comm_size(MPI_COMM_WORLD, nprocs)
  left = mod(rank + nprocs - 1, nprocs)
  right = mod(rank + 1, nprocs)
  do i = 1, 100
    sendbuf(i) = rank * 1000 + i
  end do
  call MPI_Irecv(recvbuf, 100, MPI_DOUBLE_PRECISION, left, 1, MPI_COMM_WORLD, reqs(1))
  call MPI_Isend(sendbuf, 100, MPI_DOUBLE_PRECISION, right, 1, MPI_COMM_WORLD, reqs(2))
  call MPI_Waitall(2, reqs, stats)
  ok = stats(1)%MPI_SOURCE == left .and. recvbuf(7) == left * 1000 + 7
  call MPI_Sendrecv(sendbuf, 10, MPI_DOUBLE_PRECISION, right, 2, recvbuf, 100, &
                    MPI_DOUBLE_PRECISION, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, st)
  call MPI_Get_count(st, MPI_DOUBLE_PRECISION, n)
  ok = ok .and. n == 10 .and. st%MPI_SOURCE == left .and. st%MPI_TAG == 2
  total = rank + 1
  call MPI_Allreduce(MPI_IN_PLACE, total, 1, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD)
  ok = ok .and. total == nprocs * (nprocs + 1) / 2
  if (.not. ok) then
    print *, 'fortran hello (use mpi_f08): FAILED on rank', rank
    call MPI_Abort(MPI_COMM_WORLD, 1)
  end if
  if (rank == 0) print '(a,i0,a)', 'fortran hello (use mpi_f08): ok on ', nprocs, ' ranks'
  call MPI_Finalize()
end program hello_f08
